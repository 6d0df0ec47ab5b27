//! Form definitions: checked and compiled when saved, a new version on every
//! change, cached compiled per process.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::{Value, json};
use trellis_core::form::{self, CompiledForm, FormDef};
use trellis_core::{Issue, key, publish, query};
use trellis_store::{FormSave, Job, StoreError, StoredForm, SweepState, index};
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Result};

/// A form as the API shows it.
#[derive(Debug, Clone)]
pub struct FormInfo {
    pub version: i64,
    pub definition: FormDef,
    pub updated_at: jiff::Timestamp,
}

/// Whether publishing may fill the fields a new version makes required into
/// the stored records that lack them (`?backfill=defaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backfill {
    /// Refuse a version that would leave records without a required value.
    #[default]
    No,
    /// Publish, and fill each such field's schema `default` in by a job.
    Defaults,
}

/// A field a new version requires that stored records lack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingField {
    pub field: String,
    /// The field's title (its key when it has none).
    pub title: String,
    /// Live records without a value in it.
    pub missing: i64,
}

/// A version published, and the job filling defaults in, when one was started.
#[derive(Debug, Clone)]
pub struct Published {
    pub form: FormInfo,
    pub backfill_job: Option<Uuid>,
}

fn parse_def(v: Value) -> Result<FormDef> {
    serde_json::from_value(v).map_err(|e| EngineError::Invalid(vec![Issue::new("", "definition", e.to_string()).zh(format!("表单定义的格式不对：{e}"))]))
}

/// A new definition of form `key`, as PUT or a simulation sends it: `key` may
/// be left out, and may not differ.
pub(crate) fn definition_for(key: &str, definition: Value) -> Result<FormDef> {
    let mut definition = definition;
    if let Some(obj) = definition.as_object_mut() {
        obj.entry("key").or_insert_with(|| Value::String(key.to_owned()));
    }
    let def = parse_def(definition)?;
    if def.key != key {
        return Err(EngineError::Invalid(vec![Issue::new("/key", "key", format!("the definition's key '{}' differs from the form '{key}' in the URL", def.key)).zh(format!("定义里的表单标识「{}」与地址中的表单「{key}」不一致", def.key))]));
    }
    Ok(def)
}

fn compile_stored(stored: StoredForm) -> Result<CompiledForm> {
    let key = stored.key.clone();
    let version = stored.version;
    let def = info(stored)?.definition;
    form::compile(def, version).map_err(|issues| EngineError::Internal(format!("stored form {key} no longer compiles: {issues:?}")))
}

fn info(stored: StoredForm) -> Result<FormInfo> {
    let definition = serde_json::from_value(stored.definition).map_err(|e| EngineError::Internal(format!("stored form {}: {e}", stored.key)))?;
    Ok(FormInfo { version: stored.version, definition, updated_at: stored.updated_at })
}

impl Engine {
    /// The compiled current version of a form.
    pub async fn form(&self, key: &str) -> Result<Arc<CompiledForm>> {
        if let Some(f) = self.forms.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(key) {
            return Ok(f.clone());
        }
        let missing = || EngineError::NotFound(format!("there is no form '{key}'"));
        if !key::is_valid(key, key::MAX_FORM_KEY) {
            return Err(missing());
        }
        let epoch = self.forms.epoch.load(Ordering::SeqCst);
        let stored = self.store.form(key).await?.ok_or_else(missing)?;
        Ok(self.cache(compile_stored(stored)?, epoch))
    }

    /// Every form, compiled (rollups need the forms that read a given child form).
    pub(crate) async fn all_forms(&self) -> Result<Vec<Arc<CompiledForm>>> {
        if self.forms.complete.load(Ordering::SeqCst) {
            return Ok(self.forms.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect());
        }
        let epoch = self.forms.epoch.load(Ordering::SeqCst);
        let stored = self.store.forms().await?;
        let mut out = Vec::with_capacity(stored.len());
        for s in stored {
            out.push(self.cache(compile_stored(s)?, epoch));
        }
        let map = self.forms.map.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.forms.epoch.load(Ordering::SeqCst) == epoch {
            self.forms.complete.store(true, Ordering::SeqCst);
        }
        drop(map);
        Ok(out)
    }

    /// Every form as the database holds it now, compiled (each version
    /// compiled once: a cached compilation of the same version is reused).
    /// For checking what a definition being saved names: the cache of this
    /// instance may not yet have heard of a form another instance saved a
    /// moment ago, because NOTIFY reaches it after the commit, not with it.
    pub(crate) async fn current_forms(&self) -> Result<Vec<Arc<CompiledForm>>> {
        let epoch = self.forms.epoch.load(Ordering::SeqCst);
        let stored = self.store.forms().await?;
        let mut out = Vec::with_capacity(stored.len());
        for s in stored {
            let cached = self.forms.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&s.key).filter(|c| c.version == s.version).cloned();
            out.push(match cached {
                Some(c) => c,
                None => self.cache(compile_stored(s)?, epoch),
            });
        }
        Ok(out)
    }

    /// Caches a compiled form read from the store when `epoch` began, unless
    /// a change was heard since (then it serves this request only).
    fn cache(&self, compiled: CompiledForm, epoch: u64) -> Arc<CompiledForm> {
        let compiled = Arc::new(compiled);
        let mut cache = self.forms.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.forms.epoch.load(Ordering::SeqCst) != epoch {
            return compiled;
        }
        match cache.get(compiled.key()) {
            Some(current) if current.version > compiled.version => current.clone(),
            _ => {
                cache.insert(compiled.key().to_owned(), compiled.clone());
                compiled
            }
        }
    }

    pub async fn list_forms(&self) -> Result<Vec<FormInfo>> {
        self.store.forms().await?.into_iter().map(info).collect()
    }

    pub async fn get_form(&self, key: &str) -> Result<FormInfo> {
        let stored = self.store.form(key).await?.ok_or_else(|| EngineError::NotFound(format!("there is no form '{key}'")))?;
        info(stored)
    }

    /// Creates a form at version 1.
    pub async fn create_form(&self, actor: &Actor, definition: Value) -> Result<FormInfo> {
        actor.require_admin("create forms")?;
        let def = parse_def(definition)?;
        let compiled = self.check(def, 1).await?;
        if self.store.form(compiled.key()).await?.is_some() {
            return Err(EngineError::Conflict { zh: None, message: format!("form '{}' already exists; change it with PUT", compiled.key()), key: Some(vec!["key".into()]) });
        }
        self.save(actor, compiled, false, None).await
    }

    /// Replaces a form's definition with a new version. An identical
    /// definition changes nothing. `expected_version` guards against
    /// overwriting someone else's change. A version that newly requires a
    /// field stored records lack is refused (see [`Engine::publish_form`]).
    pub async fn update_form(&self, actor: &Actor, key: &str, definition: Value, expected_version: Option<i64>) -> Result<FormInfo> {
        Ok(self.publish_form(actor, key, definition, expected_version, Backfill::No).await?.form)
    }

    /// Publishes a new version of a form. When it requires a field (newly in
    /// `schema.required`) that live records lack — counted by one count query
    /// per such field, no record loaded — it is refused with
    /// [`EngineError::RecordsWouldFail`], unless `backfill` is
    /// [`Backfill::Defaults`] and the new schema gives each such field a
    /// `default`: then the version is saved together with a job (in the same
    /// transaction) that fills the defaults in (see [`crate::backfill`]); the
    /// caller runs it with [`Engine::run_job`].
    pub async fn publish_form(&self, actor: &Actor, key: &str, definition: Value, expected_version: Option<i64>, backfill: Backfill) -> Result<Published> {
        actor.require_admin("change forms")?;
        let def = definition_for(key, definition)?;
        let current = self.get_form(key).await?;
        if let Some(v) = expected_version
            && v != current.version {
                return Err(EngineError::Stale { expected: v, current: current.version });
            }
        if current.definition == def {
            return Ok(Published { form: current, backfill_job: None });
        }
        let rules_changed = (&current.definition.computed, &current.definition.rollups, &current.definition.segments) != (&def.computed, &def.rollups, &def.segments);
        let compiled = self.check(def, current.version + 1).await?;
        let change = publish::schema_change(&current.definition, &compiled.def);
        let missing = self.missing_values(&compiled, &change.newly_required).await?;
        let job = if missing.is_empty() {
            None
        } else if backfill == Backfill::Defaults && missing.iter().all(|m| publish::default_of(&compiled.def, &m.field).is_some()) {
            check_defaults(&compiled, &missing)?;
            Some(self.backfill_job(actor, &compiled, &missing).await?)
        } else {
            return Err(would_fail(&compiled.def, missing, backfill));
        };
        let backfill_job = job.as_ref().map(|j| j.id);
        Ok(Published { form: self.save(actor, compiled, rules_changed, job).await?, backfill_job })
    }

    /// For each field, how many live records of the form lack a value in it
    /// (only fields some record lacks). One count query per field.
    async fn missing_values(&self, candidate: &CompiledForm, fields: &[String]) -> Result<Vec<MissingField>> {
        let mut out = Vec::new();
        for f in fields {
            let filter = query::parse_filter(candidate, &json!({f: {"_null": true}}))?;
            let missing = self.store.count_matching(candidate.key(), Some(&filter)).await?;
            if missing > 0 {
                out.push(MissingField { field: f.clone(), title: publish::field_title(&candidate.def, f), missing });
            }
        }
        Ok(out)
    }

    /// Compiles a definition and checks what needs other forms: link
    /// targets, and that each rollup's child form links here by its `via`
    /// field and has the fields it names.
    pub(crate) async fn check(&self, def: FormDef, version: i64) -> Result<CompiledForm> {
        // Compiling runs every script's parser: not on an async worker.
        let compiled = crate::blocking(move || form::compile(def, version)).await?.map_err(EngineError::Invalid)?;
        let others: std::collections::HashMap<String, Arc<CompiledForm>> = self.current_forms().await?.into_iter().map(|f| (f.key().to_owned(), f)).collect();
        let issues = form::check_references(&compiled, &|k| others.get(k).cloned());
        if issues.is_empty() { Ok(compiled) } else { Err(EngineError::Invalid(issues)) }
    }

    /// Saves a new version. When its rules changed, the form is marked for a
    /// sweep, so existing records follow the new rules (see [`crate::sweep`]).
    /// A backfill `job` is stored in the same transaction, so the version is
    /// never in force without the job that fills its records.
    async fn save(&self, actor: &Actor, compiled: CompiledForm, rules_changed: bool, job: Option<Job>) -> Result<FormInfo> {
        let at = self.clock.now();
        let mut tx = self.store.begin().await?;
        Self::save_in(&mut tx, actor, &compiled, rules_changed, at).await?;
        if let Some(job) = &job {
            tx.insert_job(job, &[]).await?;
        }
        tx.audit(&self.audit_entry(Some(actor), "form_saved", Some(format!("form/{}", compiled.key())), serde_json::json!({"version": compiled.version}))).await?;
        tx.commit().await?;
        Ok(self.saved(actor, compiled, at))
    }

    /// Saves several forms in one transaction, each checked against the
    /// others and the forms in force, so forms that link to and roll up from
    /// each other (a pack's customer and its follow-ups) land together in any
    /// order. Identical definitions are left alone. Returns the keys saved.
    pub(crate) async fn save_forms(&self, actor: &Actor, defs: Vec<FormDef>) -> Result<Vec<String>> {
        actor.require_admin("change forms")?;
        // The forms in force, compiled, once: what each new version replaces, and what links and rollups may name.
        let mut lookup: std::collections::HashMap<String, Arc<CompiledForm>> = self.current_forms().await?.into_iter().map(|f| (f.key().to_owned(), f)).collect();
        let mut compiled = Vec::new();
        let mut issues = Vec::new();
        for def in defs {
            let before = lookup.get(&def.key);
            if before.is_some_and(|b| b.def == def) {
                continue;
            }
            let rules_changed = before.is_none_or(|b| (&b.def.computed, &b.def.rollups, &b.def.segments) != (&def.computed, &def.rollups, &def.segments));
            let key = def.key.clone();
            match form::compile(def, before.map_or(1, |b| b.version + 1)) {
                Ok(c) => compiled.push((Arc::new(c), rules_changed && before.is_some())),
                Err(list) => issues.extend(list.into_iter().map(|i| i.prefixed(&format!("/forms/{key}")))),
            }
        }
        for (c, _) in &compiled {
            lookup.insert(c.key().to_owned(), c.clone());
        }
        for (c, _) in &compiled {
            issues.extend(form::check_references(c, &|k| lookup.get(k).cloned()).into_iter().map(|i| i.prefixed(&format!("/forms/{}", c.key()))));
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        let at = self.clock.now();
        let mut tx = self.store.begin().await?;
        for (c, rules_changed) in &compiled {
            Self::save_in(&mut tx, actor, c, *rules_changed, at).await?;
            tx.audit(&self.audit_entry(Some(actor), "form_saved", Some(format!("form/{}", c.key())), serde_json::json!({"version": c.version}))).await?;
        }
        tx.commit().await?;
        drop(lookup);
        let mut keys = Vec::new();
        for (c, _) in compiled {
            keys.push(c.key().to_owned());
            let c = Arc::try_unwrap(c).map_err(|_| EngineError::Internal("a saved form is still shared".into()))?;
            self.saved(actor, c, at);
        }
        Ok(keys)
    }

    async fn save_in(tx: &mut trellis_store::Tx, actor: &Actor, compiled: &CompiledForm, rules_changed: bool, at: jiff::Timestamp) -> Result<()> {
        let definition = serde_json::to_value(&compiled.def).map_err(|e| EngineError::Internal(e.to_string()))?;
        let indexes = index::specs(&compiled.def);
        let saved = tx
            .save_form(&FormSave { key: compiled.key(), version: compiled.version, definition: &definition, at, by: actor.id, indexes: &indexes })
            .await;
        match saved {
            Ok(()) => {}
            Err(StoreError::Unique { index }) => {
                let message = match indexes.iter().find(|s| s.name == index) {
                    Some(spec) => format!("existing records of form '{}' share values of the new unique key {:?}; fix them first", compiled.key(), spec.fields),
                    None => format!("form '{}' was changed by someone else at the same time; reload and retry", compiled.key()),
                };
                return Err(EngineError::Conflict { zh: None, message, key: indexes.iter().find(|s| s.name == index).map(|s| s.fields.clone()) });
            }
            Err(e) => return Err(e.into()),
        }
        if rules_changed {
            let fresh = SweepState { form: compiled.key().to_owned(), started_at: at, after: None, scanned: 0, changed: 0, failed: 0, finished_at: None };
            tx.save_sweep(&fresh).await?;
        }
        Ok(())
    }

    /// Caches a form just saved and says so in the log.
    fn saved(&self, actor: &Actor, compiled: CompiledForm, at: jiff::Timestamp) -> FormInfo {
        let version = compiled.version;
        let def = compiled.def.clone();
        self.cache(compiled, self.forms.epoch.load(Ordering::SeqCst));
        tracing::info!(form = %def.key, version, actor = %actor.email, "form saved");
        FormInfo { version, definition: def, updated_at: at }
    }
}

/// The refusal of a version that would leave records without required values.
fn would_fail(def: &FormDef, missing: Vec<MissingField>, backfill: Backfill) -> EngineError {
    let en: Vec<String> = missing.iter().map(|m| format!("{} ({}): {} record(s)", m.title, m.field, m.missing)).collect();
    let zh: Vec<String> = missing.iter().map(|m| format!("「{}」有 {} 条记录没有填写", m.title, m.missing)).collect();
    let no_default: Vec<&MissingField> = missing.iter().filter(|m| publish::default_of(def, &m.field).is_none()).collect();
    let (hint, hint_zh) = if backfill == Backfill::Defaults {
        let names: Vec<&str> = no_default.iter().map(|m| m.title.as_str()).collect();
        (format!("; to backfill, give each a schema default (missing for {})", names.join(", ")), format!("；要回填，请为每个字段设置默认值（「{}」还没有）", names.join("」「")))
    } else {
        (
            "; give each a schema default and publish with ?backfill=defaults, or move it from required to required_for_new".to_owned(),
            "；请为这些字段设置默认值并选择回填已有记录，或改为「仅新记录必填」".to_owned(),
        )
    };
    EngineError::RecordsWouldFail {
        message: format!("publishing would leave existing records of form '{}' without required values: {}{hint}", def.key, en.join(", ")),
        zh: format!("发布后已有的{}记录将无法通过校验：{}{hint_zh}", def.title, zh.join("，")),
        missing,
    }
}

/// Refuses a default that the field itself would refuse: every backfilled record would fail.
fn check_defaults(form: &CompiledForm, missing: &[MissingField]) -> Result<()> {
    let mut issues = Vec::new();
    for m in missing {
        let Some(value) = publish::default_of(&form.def, &m.field) else { continue };
        if m.missing > 1 && form.def.unique.iter().any(|u| u.contains(&m.field)) {
            issues.push(
                Issue::new(format!("/schema/properties/{}/default", trellis_core::issue::escape_token(&m.field)), "unique", format!("'{}' is part of a unique key: one default cannot fill {} records", m.field, m.missing))
                    .zh(format!("「{}」属于唯一键，不能用同一个默认值回填 {} 条记录", m.title, m.missing)),
            );
            continue;
        }
        let at = format!("/{}", trellis_core::issue::escape_token(&m.field));
        let mut data = serde_json::Map::new();
        data.insert(m.field.clone(), value);
        let data = Value::Object(data);
        for i in trellis_core::validate::validate(form, &data).into_iter().filter(|i| i.pointer == at || i.pointer.starts_with(&format!("{at}/"))) {
            let pointer = format!("/schema/properties{at}/default");
            let zh = i.zh.clone().map(|z| format!("默认值不符合字段要求：{z}"));
            let issue = Issue::new(pointer, i.code, format!("the default does not fit the field: {}", i.message));
            issues.push(match zh {
                Some(z) => issue.zh(z),
                None => issue,
            });
        }
    }
    if issues.is_empty() { Ok(()) } else { Err(EngineError::Invalid(issues)) }
}

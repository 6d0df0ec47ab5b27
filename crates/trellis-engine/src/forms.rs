//! Form definitions: checked and compiled when saved, a new version on every
//! change, cached compiled per process.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use trellis_core::form::{self, CompiledForm, FormDef};
use trellis_core::{Issue, key};
use trellis_store::{FormSave, StoreError, StoredForm, SweepState, index};

use crate::{Actor, Engine, EngineError, Result};

/// A form as the API shows it.
#[derive(Debug, Clone)]
pub struct FormInfo {
    pub version: i64,
    pub definition: FormDef,
    pub updated_at: jiff::Timestamp,
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
        self.save(actor, compiled, false).await
    }

    /// Replaces a form's definition with a new version. An identical
    /// definition changes nothing. `expected_version` guards against
    /// overwriting someone else's change.
    pub async fn update_form(&self, actor: &Actor, key: &str, definition: Value, expected_version: Option<i64>) -> Result<FormInfo> {
        actor.require_admin("change forms")?;
        let def = definition_for(key, definition)?;
        let current = self.get_form(key).await?;
        if let Some(v) = expected_version
            && v != current.version {
                return Err(EngineError::Stale { expected: v, current: current.version });
            }
        if current.definition == def {
            return Ok(current);
        }
        let rules_changed = (&current.definition.computed, &current.definition.rollups, &current.definition.segments) != (&def.computed, &def.rollups, &def.segments);
        let compiled = self.check(def, current.version + 1).await?;
        self.save(actor, compiled, rules_changed).await
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
    async fn save(&self, actor: &Actor, compiled: CompiledForm, rules_changed: bool) -> Result<FormInfo> {
        let at = self.clock.now();
        let mut tx = self.store.begin().await?;
        Self::save_in(&mut tx, actor, &compiled, rules_changed, at).await?;
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
